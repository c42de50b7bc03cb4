<?php
// test_abandoned, test_queue: keeps its worker busy for ?ms=
usleep((int)$_GET['ms'] * 1000);
echo "busy\n";
