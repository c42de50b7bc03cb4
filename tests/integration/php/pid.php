<?php
// The worker's pid, after ?ms= milliseconds of waiting (a loop: a signal cuts usleep() short)
$end = microtime(true) + (int)($_GET['ms'] ?? 0) / 1000;
while (($left = $end - microtime(true)) > 0) {
    usleep((int)ceil($left * 1000000));
}
echo getmypid(), "\n";
