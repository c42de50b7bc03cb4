/* parse: placeholder */
#include "macro.h"
