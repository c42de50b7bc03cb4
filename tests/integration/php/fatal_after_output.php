<?php
// The output before the error is still in PHP's output buffer (output_buffering = 4096) when it happens.
echo "before the error\n";
this_function_does_not_exist();
echo "never\n";
