<?php
require __DIR__ . '/app.php';
$router = app_router();
$request = Illuminate\Http\Request::capture();
app_handle($router, $request)->send();
