<?php
// Works ?ms= milliseconds between two halves of a known body. A loop, because a signal cuts usleep() short.
$end = microtime(true) + (int)($_GET['ms'] ?? 2000) / 1000;
echo "start\n";
while (($left = $end - microtime(true)) > 0) {
    usleep((int)ceil($left * 1000000));
}
echo str_repeat("0123456789abcdef", 4096), "\n";
echo "end\n";
