<?php
// $_SERVER, getenv() and apache_request_headers() as the script sees them: compared between fpmd and PHP-FPM,
// key order included
$values = $_SERVER;
unset($values['REQUEST_TIME'], $values['REQUEST_TIME_FLOAT']);
header('Content-Type: application/json');
echo json_encode([
    'server' => array_keys($_SERVER),
    'values' => $values,
    'getenv' => getenv(),
    'headers' => apache_request_headers(),
    'one' => getenv('HTTP_X_ONE'),
    'pool' => getenv('FROM_POOL'),
]);
