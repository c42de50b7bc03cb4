/* worker: placeholder */
#include "macro.h"
