<?php
// Where the script believes it is: its own path and the working directory
echo __FILE__, "\n", getcwd(), "\n";
