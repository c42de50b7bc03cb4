<?php echo "index in dir.php/\n";
