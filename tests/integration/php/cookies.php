<?php
// Three cookies: three Set-Cookie header lines the web server must pass on as they are.
setcookie('a', '1');
setcookie('b', 'two words', ['path' => '/sub', 'httponly' => true]);
header('Set-Cookie: c=3; SameSite=Strict', false);
echo "cookies\n";
