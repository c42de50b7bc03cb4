/* listen: placeholder */
#include "macro.h"
