<?php
// For the access log: ?code= the status (default 200), ?h= an X-Log header, ?ct= a Content-Type, ?ms= a wait;
// answers with the length of the body it read.
$end = microtime(true) + (int)($_GET['ms'] ?? 0) / 1000;
while (($left = $end - microtime(true)) > 0) {
    usleep((int)ceil($left * 1000000));
}
if (isset($_GET['code'])) {
    http_response_code((int)$_GET['code']);
}
if (isset($_GET['h'])) {
    header('X-Log: ' . $_GET['h']);
}
if (isset($_GET['ct'])) {
    header('Content-Type: ' . $_GET['ct']);
}
echo strlen(file_get_contents('php://input')), "\n";
