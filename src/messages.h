/* messages.h: MESSAGE_ID= of fpmd's key events in the journal; units/fpmd.catalog explains each */
#pragma once

#define FPMD_MESSAGE_POOL_STARTED           "1b350c51820c4a608bd7a8013c012782"
#define FPMD_MESSAGE_MAX_CHILDREN_REACHED   "52eed42a384c479bb5ae8e75209c17c9"
#define FPMD_MESSAGE_REQUEST_TIMED_OUT      "a19d1aff3d964b33a24a3f556f3cd313"
#define FPMD_MESSAGE_EMERGENCY_RESTART      "5e4211520bfe46ee96115e7858d4d921"
#define FPMD_MESSAGE_SLOW_REQUEST           "fe7085c5baaf49549adffe64e07e6d2f"
#define FPMD_MESSAGE_WORKER_CRASHED         "9badcb14f3234388b6679620af36cbd2"
#define FPMD_MESSAGE_ACCESS                 "4d6e1f5ec07a4d83a2a3b8d5a7f0c915"
#define FPMD_MESSAGE_SCOREBOARD_OVERWRITTEN "c0e3a8f2b5d94d1e8a7b6c5d4e3f2a19"
