<?php
// Never ends on its own: only request_terminate_timeout (or max_execution_time) stops it
echo "spinning\n";
while (true) {
}
