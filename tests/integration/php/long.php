<?php
// test_abandoned: runs for 5 s without writing anything; its shutdown function records how it ended
$m = $_GET['m'];
if (!empty($_GET['ignore'])) ignore_user_abort(true);
register_shutdown_function(function () use ($m) {
    file_put_contents("$m.shutdown", 'aborted=' . connection_aborted());
});
for ($i = 1; $i <= 50; $i++) {
    usleep(100000);
    file_put_contents("$m.progress", $i);
}
echo "done\n";
