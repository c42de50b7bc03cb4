<?php
// Whether opcache runs in this pool, and the scripts its shared memory holds
header('Content-Type: application/json');
$status = function_exists('opcache_get_status') ? opcache_get_status(true) : false;
echo json_encode([
    'enabled' => $status ? $status['opcache_enabled'] : false,
    'scripts' => $status ? array_keys($status['scripts']) : [],
], JSON_UNESCAPED_SLASHES), "\n";
