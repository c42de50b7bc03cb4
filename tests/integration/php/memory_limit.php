<?php
// The pool's php_value memory_limit after ~20 ms of work: which generation of the pool answered
usleep(20000);
echo "memory_limit=", ini_get('memory_limit'), "\n";
