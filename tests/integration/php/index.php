<?php
// (a copy as index.php) The path and script variables a request ended up with.
header('Content-Type: application/json');
$keys = ['SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'PATH_TRANSLATED', 'PHP_SELF', 'REQUEST_URI',
         'DOCUMENT_ROOT', 'QUERY_STRING', 'ORIG_SCRIPT_FILENAME', 'ORIG_SCRIPT_NAME', 'ORIG_PATH_INFO',
         'ORIG_PATH_TRANSLATED'];
$out = [];
foreach ($keys as $k) {
    $out[$k] = $_SERVER[$k] ?? null;
}
$out['__FILE__'] = __FILE__;
$out['pid'] = getmypid();
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
