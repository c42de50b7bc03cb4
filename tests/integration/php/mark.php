<?php
// test_abandoned, test_queue: leaves a mark when PHP runs it
file_put_contents($_GET['m'], 'ran');
echo "marked\n";
