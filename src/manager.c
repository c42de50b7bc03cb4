/* manager: placeholder */
#include "macro.h"
