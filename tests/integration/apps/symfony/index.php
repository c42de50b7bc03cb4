<?php
require __DIR__ . '/app.php';
use Symfony\Component\HttpFoundation\Request;
$kernel = app();
$request = Request::createFromGlobals();
$response = $kernel->handle($request);
$response->send();
$kernel->terminate($request, $response);
