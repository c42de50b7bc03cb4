<?php
function leave(): void
{
    echo "in function\n";
    exit();
}
echo "before\n";
leave();
echo "after\n";
