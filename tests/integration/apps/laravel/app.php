<?php
require_once '/usr/share/php/Illuminate/autoload.php';

use Illuminate\Container\Container;
use Illuminate\Events\Dispatcher;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Illuminate\Http\RedirectResponse;
use Illuminate\Routing\Router;
use Illuminate\Filesystem\Filesystem;
use Illuminate\View\Compilers\BladeCompiler;
use Illuminate\View\Engines\CompilerEngine;
use Illuminate\View\Engines\EngineResolver;
use Illuminate\View\Factory;
use Illuminate\View\FileViewFinder;

function app_router(): Router
{
    $container = new Container();
    Container::setInstance($container);
    $router = new Router(new Dispatcher($container), $container);
    $hello = function (Request $r, string $name) {
        return new Response(sprintf("Hello %s (%s, %s)\n", $name, $r->method(), $r->query('q', '-')));
    };
    $router->get('/hello/{name}', $hello);
    $router->get('/l/hello/{name}', $hello); // tests/bench/worker's nginx location for this app
    $router->post('/form', function (Request $r) {
        return response_json(['post' => $r->post(), 'files' => array_map(
            fn ($f) => [$f->getClientOriginalName(), file_get_contents($f->getPathname())], $r->allFiles())]);
    });
    // A Blade view, compiled once into a folder of the running user's
    $views = blade_views($container);
    $router->get('/page/{name}', fn (Request $r, string $name) => new Response(
        $views->make('page', ['name' => $name, 'items' => $r->query()])->render()));
    $router->get('/cookie', function (Request $r) {
        return (new Response('cookie=' . $r->cookie('c', 'none') . "\n"))
            ->withCookie(new \Symfony\Component\HttpFoundation\Cookie('c', 'set', 0, '/', null, false, true, false, null));
    });
    // PHP's own session: the session id comes in the request's cookie
    $router->get('/session', function () {
        session_save_path(sys_get_temp_dir());
        session_start();
        $_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
        return new Response('visits=' . $_SESSION['visits'] . "\n");
    });
    $router->get('/redirect', fn () => new RedirectResponse('/hello/there'));
    $router->get('/boom', function () { throw new LogicException('boom'); });
    return $router;
}

function blade_views(Container $container): Factory
{
    $files = new Filesystem();
    $compiled = sys_get_temp_dir() . '/fpmd-blade-' . getmyuid();
    if (!is_dir($compiled)) {
        @mkdir($compiled, 0700);
    }
    $resolver = new EngineResolver();
    $resolver->register('blade', fn () => new CompilerEngine(new BladeCompiler($files, $compiled)));
    $factory = new Factory($resolver, new FileViewFinder($files, [__DIR__ . '/views']), new Dispatcher($container));
    $factory->setContainer($container);
    return $factory;
}

function response_json(array $data): Response
{
    return new Response(json_encode($data) . "\n", 200, ['Content-Type' => 'application/json']);
}

function app_handle(Router $router, Request $request): \Symfony\Component\HttpFoundation\Response
{
    // as Laravel's kernel does: the request of the moment is the container's, for the closures that ask for one
    Container::getInstance()->instance(Request::class, $request);
    Container::getInstance()->instance('request', $request);
    try {
        return $router->dispatch($request);
    } catch (\Symfony\Component\HttpKernel\Exception\HttpExceptionInterface $e) {
        return new Response("error " . $e->getStatusCode() . "\n", $e->getStatusCode());
    } catch (\Throwable $e) {
        return new Response("error 500\n", 500);
    }
}
