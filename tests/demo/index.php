<?php
// fpmd demo page: what PHP runs this request, a form that posts back, and what the request looked like.
declare(strict_types=1);

function h(mixed $v): string
{
    return htmlspecialchars((string)$v, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

$message = null;
if (($_SERVER['REQUEST_METHOD'] ?? 'GET') === 'POST') {
    $message = trim((string)($_POST['message'] ?? ''));
}

$started = $_SERVER['REQUEST_TIME_FLOAT'] ?? microtime(true);
$request = [
    'Method' => $_SERVER['REQUEST_METHOD'] ?? '',
    'URI' => $_SERVER['REQUEST_URI'] ?? '',
    'Script' => $_SERVER['SCRIPT_NAME'] ?? '',
    'Path info' => $_SERVER['PATH_INFO'] ?? '',
    'Query' => $_SERVER['QUERY_STRING'] ?? '',
    'Remote address' => $_SERVER['REMOTE_ADDR'] ?? '',
    'Server software' => $_SERVER['SERVER_SOFTWARE'] ?? '',
    'Protocol' => $_SERVER['SERVER_PROTOCOL'] ?? '',
];
$runtime = [
    'PHP version' => PHP_VERSION,
    'SAPI' => PHP_SAPI,
    'Worker pid' => getmypid(),
    'OPcache' => function_exists('opcache_get_status') && @opcache_get_status(false) ? 'enabled' : 'disabled',
    'memory_limit' => ini_get('memory_limit'),
    'Peak memory' => sprintf('%.1f MiB', memory_get_peak_usage(true) / 1048576),
];
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fpmd demo</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { width: 11rem; font-weight: 600; }
  code, td { font-family: ui-monospace, monospace; font-size: .92rem; }
  .echo { background: #eef6ee; border: 1px solid #b6d8b6; padding: .6rem .8rem; }
  input[type=text] { width: 60%; padding: .3rem; }
</style>
</head>
<body>
<h1>Hello from <?= h(PHP_SAPI) ?> on PHP <?= h(PHP_VERSION) ?></h1>
<p>This page is served by a PHP FastCGI worker. With fpmd behind nginx, <code>PHP_SAPI</code> is
<code>fpm-fcgi</code>, exactly as under PHP-FPM.</p>

<h2>Post something</h2>
<form method="post" action="<?= h($_SERVER['SCRIPT_NAME'] ?? '/index.php') ?>">
  <input type="text" name="message" placeholder="Type a message" value="<?= h($message ?? '') ?>">
  <button type="submit">Send</button>
</form>
<?php if ($message !== null): ?>
<p class="echo">You posted: <strong><?= $message === '' ? '<em>(nothing)</em>' : h($message) ?></strong></p>
<?php endif; ?>

<h2>Runtime</h2>
<table>
<?php foreach ($runtime as $k => $v): ?>
  <tr><th><?= h($k) ?></th><td><?= h($v) ?></td></tr>
<?php endforeach; ?>
</table>

<h2>This request</h2>
<table>
<?php foreach ($request as $k => $v): ?>
  <tr><th><?= h($k) ?></th><td><?= h($v) ?></td></tr>
<?php endforeach; ?>
</table>

<h2>Request headers</h2>
<table>
<?php foreach (getallheaders() as $k => $v): ?>
  <tr><th><?= h($k) ?></th><td><?= h($v) ?></td></tr>
<?php endforeach; ?>
</table>

<p><small>Rendered in <?= h(sprintf('%.2f ms', (microtime(true) - $started) * 1000)) ?>.</small></p>
</body>
</html>
