<?php
// Who the worker runs as: the Uid/Gid/Groups lines of /proc/self/status as they are, and posix_getuid()
// where the posix extension is loaded
header('Content-Type: text/plain');
foreach (file('/proc/self/status') as $line) {
    if (preg_match('/^(Uid|Gid|Groups):/', $line)) {
        echo $line;
    }
}
echo 'posix_getuid=', function_exists('posix_getuid') ? posix_getuid() : 'n/a', "\n";
