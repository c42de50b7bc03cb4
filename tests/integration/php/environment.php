<?php
// What PHP looks like from inside a worker: compared between fpmd and PHP-FPM
$ext = get_loaded_extensions();
sort($ext);
$functions = get_defined_functions()['internal'];
sort($functions);
$constants = array_keys(get_defined_constants());
sort($constants);
$classes = get_declared_classes();
sort($classes);
$ini = ini_get_all(null, false);
ksort($ini);
header('Content-Type: application/json');
echo json_encode([
    'sapi' => PHP_SAPI,
    'extensions' => $ext,
    'functions' => $functions,
    'constants' => $constants,
    'classes' => $classes,
    'ini' => $ini,
    'USER' => getenv('USER'),
    'HOME' => getenv('HOME'),
    'SERVER_USER' => $_SERVER['USER'] ?? null,
    'SERVER_HOME' => $_SERVER['HOME'] ?? null,
    'uid' => function_exists('posix_geteuid') ? posix_geteuid() : null,
]);
