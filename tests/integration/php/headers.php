<?php
header('X-Custom: custom value');
header('X-Multi: one');
header('X-Multi: two', false);
header('Cache-Control: no-store');
setcookie('session', 'abc123', ['path' => '/', 'httponly' => true]);
echo "headers\n";
