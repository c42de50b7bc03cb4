/* scoreboard: placeholder */
#include "macro.h"
