<?php
require_once '/usr/share/php/Illuminate/autoload.php';

use Illuminate\Container\Container;
use Illuminate\Events\Dispatcher;
use Illuminate\Http\Request;
use Illuminate\Http\Response;
use Illuminate\Http\RedirectResponse;
use Illuminate\Routing\Router;
use Illuminate\Routing\UrlGenerator;

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
    $router->get('/redirect', fn () => new RedirectResponse('/hello/there'));
    $router->get('/boom', function () { throw new LogicException('boom'); });
    return $router;
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
