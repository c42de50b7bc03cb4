<?php
// ?get[]=name ... -> ini_get of each; ?set[name]=value -> ini_set (result and value after)
header('Content-Type: application/json');
$out = ['get' => [], 'set' => []];
foreach ($_GET['set'] ?? [] as $name => $value) {
    $old = ini_set($name, $value);
    $out['set'][$name] = ['returned' => $old, 'after' => ini_get($name)];
}
foreach ($_GET['get'] ?? [] as $name) {
    $out['get'][$name] = ini_get($name);
}
echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
