<?php
// A form POST answered with what it carried and which pool configuration answered: a lost or cut body shows
usleep(2000);
echo ini_get('memory_limit'), ' ', $_POST['seq'] ?? '-', ' ', strlen($_POST['text'] ?? ''), "\n";
