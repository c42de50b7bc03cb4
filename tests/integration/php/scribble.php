<?php
// What a script that got code execution in a worker could do: write over the whole scoreboard of its pool (the
// shared memory its workers and the supervisor read), with random bytes or with one pid in every 32-bit word.
// Needs ffi.enable = 1 (a test-only pool).
$start = $end = null;
foreach (file('/proc/self/maps') as $line) {
    if (strpos($line, '/memfd:fpmd-scoreboard:') !== false) {
        [$start, $end] = array_map('hexdec', explode('-', explode(' ', $line)[0]));
        break;
    }
}
if ($start === null) {
    http_response_code(500);
    exit("no scoreboard mapped\n");
}
$len = $end - $start;
$bytes = ($_GET['mode'] ?? '') === 'pid'
    ? str_repeat(pack('V', (int)$_GET['pid']), intdiv($len, 4))
    : random_bytes($len);
$ffi = FFI::cdef('void *memcpy(void *dst, const void *src, size_t n);');
$ffi->memcpy($ffi->cast('void *', $start), $bytes, strlen($bytes));
echo "wrote $len bytes\n";
