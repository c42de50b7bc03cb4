<?php
require __DIR__ . '/app.php';
$router = app_router();
while (fpmd_handle_request(function () use ($router) {
    $request = Illuminate\Http\Request::capture();
    app_handle($router, $request)->send();
})) {
    gc_collect_cycles();
}
