<h1>Hello {{ $name }}</h1>
<ul>
@forelse ($items as $key => $value)
  <li>{{ $key }} = {{ $value }}</li>
@empty
  <li>nothing</li>
@endforelse
</ul>
