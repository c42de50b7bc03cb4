<?php
echo "a\n";
