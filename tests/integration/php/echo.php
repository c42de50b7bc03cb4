<?php
// Everything the request brought, as JSON; the tests compare it field by field.
function describe_files(array $files): array
{
    $out = [];
    foreach ($files as $field => $f) {
        $out[$field] = [
            'name' => $f['name'],
            'type' => $f['type'],
            'size' => $f['size'],
            'error' => $f['error'],
            'md5' => ($f['error'] === UPLOAD_ERR_OK && is_uploaded_file($f['tmp_name']))
                ? md5_file($f['tmp_name']) : null,
        ];
    }
    return $out;
}

$input = file_get_contents('php://input');
header('Content-Type: application/json');
echo json_encode([
    'get' => $_GET,
    'post' => $_POST,
    'cookie' => $_COOKIE,
    'files' => describe_files($_FILES),
    'input_length' => strlen($input),
    'input_md5' => md5($input),
    'input' => strlen($input) <= 65536 ? $input : null,
    'server' => $_SERVER,
    'getallheaders' => getallheaders(),
    'apache_request_headers' => apache_request_headers(),
    'sapi' => PHP_SAPI,
    'time' => microtime(true),
    'memory_peak' => memory_get_peak_usage(true),
], JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PRESERVE_ZERO_FRACTION), "\n";
