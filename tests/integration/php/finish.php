<?php
// Answer, hang up, keep working: the marker file is written two seconds after the client has its response.
echo "done";
fastcgi_finish_request();
sleep(2);
file_put_contents($_GET['marker'], sprintf('%.6f', microtime(true)));
