<?php
// The slowlog's backtrace: a() -> b() -> c() -> usleep(), each call on a line test_slowlog.py knows.
function c()
{
    usleep((int)($_GET['us'] ?? 2500000)); // line 5
}
function b()
{
    c(); // line 9
}
function a()
{
    b(); // line 13
}
$t0 = microtime(true);
a(); // line 16
printf("slept %.3f\n", microtime(true) - $t0);
echo str_repeat("0123456789abcdef", 4096), "\nend\n";
