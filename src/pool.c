/* pool: placeholder */
#include "macro.h"
