/* fcgi: placeholder */
#include "macro.h"
