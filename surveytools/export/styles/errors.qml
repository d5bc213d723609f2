{%- from "_symbol.qml" import symbol -%}
<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="Symbology|Labeling" labelsEnabled="0">
  <renderer-v2 type="RuleRenderer" forceraster="0" symbollevels="0" enableorderby="0" referencescale="-1">
    <rules key="{a5d1c0f2-0000-4000-8000-000000000000}">
      {%- for r in rules %}
      <rule key="{a5d1c0f2-0000-4000-8000-00000000000{{ loop.index }}}" symbol="{{ loop.index0 }}" label="{{ r.label }}" filter="{{ r.filter }}"{% if not r.visible %} checkstate="0"{% endif %}/>
      {%- endfor %}
    </rules>
    <symbols>
      {%- for r in rules %}
      {{ symbol(kind, loop.index0, r.symbol) }}
      {%- endfor %}
    </symbols>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <layerGeometryType>{{ geometry_type }}</layerGeometryType>
</qgis>
