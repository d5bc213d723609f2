{#- one symbol: kind marker|line|fill; s = dict(color, outline, width, size, shape, fill_style) -#}
{%- macro ddp() -%}
<data_defined_properties><Option type="Map"><Option type="QString" name="name" value=""/><Option name="properties"/><Option type="QString" name="type" value="collection"/></Option></data_defined_properties>
{%- endmacro -%}
{%- macro symbol(kind, name, s) -%}
<symbol type="{{ kind }}" name="{{ name }}" alpha="1" clip_to_extent="1" force_rhr="0">
  {{ ddp() }}
  {%- if kind == "marker" %}
  <layer class="SimpleMarker" enabled="1" locked="0" pass="0">
    <Option type="Map">
      <Option type="QString" name="angle" value="0"/>
      <Option type="QString" name="color" value="{{ s.color }}"/>
      <Option type="QString" name="joinstyle" value="bevel"/>
      <Option type="QString" name="name" value="{{ s.shape or 'circle' }}"/>
      <Option type="QString" name="outline_color" value="{{ s.outline or '35,35,35,255' }}"/>
      <Option type="QString" name="outline_style" value="solid"/>
      <Option type="QString" name="outline_width" value="0.2"/>
      <Option type="QString" name="outline_width_unit" value="MM"/>
      <Option type="QString" name="scale_method" value="diameter"/>
      <Option type="QString" name="size" value="{{ s.size or 2 }}"/>
      <Option type="QString" name="size_unit" value="MM"/>
    </Option>
    {{ ddp() }}
  </layer>
  {%- elif kind == "line" %}
  <layer class="SimpleLine" enabled="1" locked="0" pass="0">
    <Option type="Map">
      <Option type="QString" name="capstyle" value="square"/>
      <Option type="QString" name="joinstyle" value="bevel"/>
      <Option type="QString" name="line_color" value="{{ s.color }}"/>
      <Option type="QString" name="line_style" value="{{ s.line_style or 'solid' }}"/>
      <Option type="QString" name="line_width" value="{{ s.width or 0.6 }}"/>
      <Option type="QString" name="line_width_unit" value="MM"/>
    </Option>
    {{ ddp() }}
  </layer>
  {%- else %}
  <layer class="SimpleFill" enabled="1" locked="0" pass="0">
    <Option type="Map">
      <Option type="QString" name="color" value="{{ s.color }}"/>
      <Option type="QString" name="joinstyle" value="bevel"/>
      <Option type="QString" name="outline_color" value="{{ s.outline }}"/>
      <Option type="QString" name="outline_style" value="{{ s.line_style or 'solid' }}"/>
      <Option type="QString" name="outline_width" value="{{ s.width or 0.26 }}"/>
      <Option type="QString" name="outline_width_unit" value="MM"/>
      <Option type="QString" name="style" value="{{ s.fill_style or 'solid' }}"/>
    </Option>
    {{ ddp() }}
  </layer>
  {%- endif %}
</symbol>
{%- endmacro -%}
