<?xml version="1.0" encoding="UTF-8"?>
<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" version="1.1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">
  <NamedLayer>
    <se:Name>{{ table }}</se:Name>
    <UserStyle>
      <se:Name>{{ style_name }}</se:Name>
      <se:FeatureTypeStyle>
        {%- for r in rules %}
        <se:Rule>
          <se:Name>{{ r.label }}</se:Name>
          {%- if r.value is not none %}
          <ogc:Filter><ogc:PropertyIsLike wildCard="*" singleChar="." escape="!"><ogc:PropertyName>{{ r.field }}</ogc:PropertyName><ogc:Literal>{{ r.value }}*</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>
          {%- endif %}
          {%- if kind == "marker" %}
          <se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>{{ 'triangle' if r.symbol.shape == 'triangle' else 'circle' }}</se:WellKnownName><se:Fill><se:SvgParameter name="fill">{{ r.hex }}</se:SvgParameter></se:Fill><se:Stroke><se:SvgParameter name="stroke">#232323</se:SvgParameter></se:Stroke></se:Mark><se:Size>7</se:Size></se:Graphic></se:PointSymbolizer>
          {%- elif kind == "line" %}
          <se:LineSymbolizer><se:Stroke><se:SvgParameter name="stroke">{{ r.hex }}</se:SvgParameter><se:SvgParameter name="stroke-width">2</se:SvgParameter></se:Stroke></se:LineSymbolizer>
          {%- else %}
          <se:PolygonSymbolizer>{% if r.fill_hex %}<se:Fill><se:SvgParameter name="fill">{{ r.fill_hex }}</se:SvgParameter><se:SvgParameter name="fill-opacity">{{ r.fill_opacity }}</se:SvgParameter></se:Fill>{% endif %}<se:Stroke><se:SvgParameter name="stroke">{{ r.stroke_hex }}</se:SvgParameter><se:SvgParameter name="stroke-width">{{ r.stroke_width }}</se:SvgParameter></se:Stroke></se:PolygonSymbolizer>
          {%- endif %}
        </se:Rule>
        {%- endfor %}
        {%- if label %}
        <se:Rule>
          <se:TextSymbolizer><se:Label><ogc:PropertyName>{{ label.field }}</ogc:PropertyName></se:Label><se:Font><se:SvgParameter name="font-family">Noto Sans CJK SC</se:SvgParameter><se:SvgParameter name="font-size">{{ label.size }}</se:SvgParameter></se:Font></se:TextSymbolizer>
        </se:Rule>
        {%- endif %}
      </se:FeatureTypeStyle>
    </UserStyle>
  </NamedLayer>
</StyledLayerDescriptor>
