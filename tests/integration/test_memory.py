#!/usr/bin/python3
"""pm.max_memory: a worker whose resident memory is above the limit after a request ends after it and is replaced
(the journal says so); one below it serves on. The script leaks 64 MiB with FFI's malloc, memory PHP's own
allocator would give back at the end of the request. fpmd only (PHP-FPM has no such setting, php-src #17661)."""

import harness

harness.require_fpmd("test_memory")

LEAK = r"""<?php
$ffi = FFI::cdef("void *malloc(size_t size); void *memset(void *s, int c, size_t n);");
$p = $ffi->malloc(64 << 20);
$ffi->memset($p, 1, 64 << 20);
echo "leaked\n";
"""


class MaxMemory(harness.FpmdTestCase):
    def test_worker_above_max_memory_is_replaced(self):
        self.ws.write("/leak.php", LEAK)
        s = self.fpmd({"www": {"pm": {"mode": "static", "max_children": 1, "max_memory": "48M"},
                               "php_admin_value": {"ffi.enable": "1"}}})
        worker = s.pool_workers()
        # below the limit: the same worker serves on
        for _ in range(3):
            self.assertEqual(self.raw("/hello.php", server=s).body, b"hello\n")
        self.assertEqual(s.pool_workers(), worker)
        offset = s.log_offset()
        self.assertEqual(self.raw("/leak.php", server=s).body, b"leaked\n")
        line = s.wait_log(r"\[pool www\] worker uses (\d+) MiB after its request, above pm\.max_memory \(48 MiB\): "
                          r"replacing it\.$", offset)
        self.assertIsNotNone(line, s.log_text()[offset:])
        self.assertGreaterEqual(int(line.group(1)), 64)
        self.assertTrue(harness.wait_for(lambda: len(s.pool_workers()) == 1 and s.pool_workers() != worker, 10),
                        (worker, s.pool_workers()))
        self.assertEqual(self.raw("/hello.php", server=s).body, b"hello\n")


if __name__ == "__main__":
    harness.main()
