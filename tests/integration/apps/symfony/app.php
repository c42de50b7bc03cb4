<?php
require_once '/usr/share/php/Symfony/Component/HttpKernel/autoload.php';
require_once '/usr/share/php/Symfony/Component/Routing/autoload.php';
require_once '/usr/share/php/Twig/autoload.php';

use Symfony\Component\EventDispatcher\EventDispatcher;
use Symfony\Component\HttpFoundation\Cookie;
use Symfony\Component\HttpFoundation\RedirectResponse;
use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\HttpFoundation\RequestStack;
use Symfony\Component\HttpFoundation\Response;
use Symfony\Component\HttpFoundation\Session\Session;
use Symfony\Component\HttpFoundation\Session\Storage\Handler\NativeFileSessionHandler;
use Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage;
use Symfony\Component\HttpKernel\Controller\ArgumentResolver;
use Symfony\Component\HttpKernel\Controller\ControllerResolver;
use Symfony\Component\HttpKernel\Event\ExceptionEvent;
use Symfony\Component\HttpKernel\EventListener\RouterListener;
use Symfony\Component\HttpKernel\Exception\HttpExceptionInterface;
use Symfony\Component\HttpKernel\HttpKernel;
use Symfony\Component\HttpKernel\KernelEvents;
use Symfony\Component\Routing\Matcher\UrlMatcher;
use Symfony\Component\Routing\RequestContext;
use Symfony\Component\Routing\Route;
use Symfony\Component\Routing\RouteCollection;

function app(): HttpKernel
{
    $twig = new \Twig\Environment(new \Twig\Loader\FilesystemLoader(__DIR__ . '/templates'),
        ['cache' => false, 'strict_variables' => true]);
    $routes = new RouteCollection();
    $routes->add('page', new Route('/page/{name}', ['_controller' => function (Request $r, string $name) use ($twig) {
        return new Response($twig->render('page.html.twig', ['name' => $name, 'items' => $r->query->all()]));
    }]));
    // PHP's own session through Symfony's storage: the session id comes in the request's cookie (not strict:
    // the test names its sessions)
    $routes->add('session', new Route('/session', ['_controller' => function (Request $r) {
        $session = new Session(new NativeSessionStorage(['use_strict_mode' => 0],
            new NativeFileSessionHandler(sys_get_temp_dir())));
        $session->start();
        $session->set('visits', $session->get('visits', 0) + 1);
        $visits = $session->get('visits');
        $session->save();
        return new Response("visits=$visits\n");
    }]));
    $routes->add('hello', new Route('/hello/{name}', ['_controller' => function (Request $r, string $name) {
        return new Response(sprintf("Hello %s (%s, %s)\n", $name, $r->getMethod(), $r->query->get('q', '-')));
    }]));
    $routes->add('form', new Route('/form', ['_controller' => function (Request $r) {
        return new Response(json_encode(['post' => $r->request->all(), 'files' => array_map(
            fn ($f) => [$f->getClientOriginalName(), file_get_contents($f->getPathname())], $r->files->all())]) . "\n",
            200, ['Content-Type' => 'application/json']);
    }]));
    $routes->add('cookie', new Route('/cookie', ['_controller' => function (Request $r) {
        $resp = new Response('cookie=' . $r->cookies->get('c', 'none') . "\n");
        $resp->headers->setCookie(Cookie::create('c', 'set', 0, '/', null, false, true, false, null));
        return $resp;
    }]));
    $routes->add('redirect', new Route('/redirect', ['_controller' => fn () => new RedirectResponse('/hello/there')]));
    $routes->add('boom', new Route('/boom', ['_controller' => function () { throw new \LogicException('boom'); }]));
    $dispatcher = new EventDispatcher();
    $stack = new RequestStack();
    $dispatcher->addSubscriber(new RouterListener(new UrlMatcher($routes, new RequestContext()), $stack));
    // Errors as pages: 404 for an unknown route, 500 for the rest
    $dispatcher->addListener(KernelEvents::EXCEPTION, function (ExceptionEvent $e) {
        $t = $e->getThrowable();
        $code = $t instanceof HttpExceptionInterface ? $t->getStatusCode() : 500;
        $e->setResponse(new Response("error $code\n", $code));
    });
    return new HttpKernel($dispatcher, new ControllerResolver(), $stack, new ArgumentResolver());
}
