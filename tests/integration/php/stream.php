<?php
// The first part must reach the client while the script still sleeps.
while (ob_get_level() > 0) {
    ob_end_flush();
}
echo "first\n";
flush();
usleep((int)($_GET['us'] ?? 1500000));
echo "second\n";
