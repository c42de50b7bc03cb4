<?php
require __DIR__ . '/app.php';
use Symfony\Component\HttpFoundation\Request;
$kernel = app();
while (fpmd_handle_request(function () use ($kernel) {
    $request = Request::createFromGlobals();
    $response = $kernel->handle($request);
    $response->send();
    $kernel->terminate($request, $response);
})) {
    gc_collect_cycles();
}
