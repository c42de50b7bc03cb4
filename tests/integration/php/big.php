<?php
// 10 MiB: 163840 lines of 64 bytes, "%063d\n" of the line number.
for ($i = 0; $i < 163840; $i++) {
    printf("%063d\n", $i);
}
