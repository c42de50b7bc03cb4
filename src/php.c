/* php: placeholder */
#include "macro.h"
