<?php
echo "request ", $_GET["i"] ?? "-", "\n";
