/* config: placeholder */
#include "macro.h"
