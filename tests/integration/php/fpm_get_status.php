<?php
// fpm_get_status() as JSON, with the PHP type of every value (JSON alone cannot tell 0 from 0.0)
$s = fpm_get_status();
$types = [];
$proc_types = [];
if (is_array($s)) {
    foreach ($s as $k => $v) {
        $types[$k] = gettype($v);
    }
    foreach ($s['procs'] as $p) {
        $t = [];
        foreach ($p as $k => $v) {
            $t[$k] = gettype($v);
        }
        $proc_types[] = $t;
    }
}
header('Content-Type: application/json');
echo json_encode(['status' => $s, 'types' => $types, 'proc_types' => $proc_types, 'pid' => getmypid()],
    JSON_PRESERVE_ZERO_FRACTION), "\n";
