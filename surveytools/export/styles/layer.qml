{%- from "_symbol.qml" import symbol -%}
<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.16-Białowieża" styleCategories="Symbology|Labeling" labelsEnabled="{{ 1 if label else 0 }}">
  {%- if categories %}
  <renderer-v2 type="categorizedSymbol" attr="{{ category_expr }}" forceraster="0" symbollevels="0" enableorderby="0" referencescale="-1">
    <categories>
      {%- for c in categories %}
      <category render="true" symbol="{{ loop.index0 }}" value="{{ c.value }}" label="{{ c.label }}"/>
      {%- endfor %}
      <category render="true" symbol="{{ categories|length }}" value="" label="{{ other_label }}"/>
    </categories>
    <symbols>
      {%- for c in categories %}
      {{ symbol(kind, loop.index0, c.symbol) }}
      {%- endfor %}
      {{ symbol(kind, categories|length, other_symbol) }}
    </symbols>
    <source-symbol>
      {{ symbol(kind, 0, other_symbol) }}
    </source-symbol>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  {%- else %}
  <renderer-v2 type="singleSymbol" forceraster="0" symbollevels="0" enableorderby="0" referencescale="-1">
    <symbols>
      {{ symbol(kind, 0, single) }}
    </symbols>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  {%- endif %}
  {%- if label %}
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="{{ label.field }}" isExpression="{{ 1 if label.expression else 0 }}" fontFamily="Noto Sans CJK SC" namedStyle="{{ 'Bold' if label.bold else 'Regular' }}" fontWeight="{{ 75 if label.bold else 50 }}" fontItalic="0" fontSize="{{ label.size }}" fontSizeUnit="Point" textColor="{{ label.color }}" textOpacity="1" fontLetterSpacing="0" fontWordSpacing="0" fontKerning="1" fontUnderline="0" fontStrikeout="0" blendMode="0" multilineHeight="1" allowHtml="0" capitalization="0" useSubstitutions="0" previewBkgrdColor="255,255,255,255" textOrientation="horizontal">
        <families/>
        <text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255" bufferOpacity="0.85" bufferNoFill="1" bufferJoinStyle="128" bufferBlendMode="0" bufferSizeMapUnitScale="3x:0,0,0,0,0,0"/>
        <text-mask maskEnabled="0" maskType="0" maskSize="0" maskSizeUnits="MM" maskOpacity="1" maskJoinStyle="128" maskedSymbolLayers="" maskSizeMapUnitScale="3x:0,0,0,0,0,0"/>
        <background shapeDraw="0" shapeType="0"/>
        <shadow shadowDraw="0"/>
        <dd_properties><Option type="Map"><Option type="QString" name="name" value=""/><Option name="properties"/><Option type="QString" name="type" value="collection"/></Option></dd_properties>
        <substitutions/>
      </text-style>
      <text-format wrapChar="" autoWrapLength="0" useMaxLineLengthForAutoWrap="1" multilineAlign="3" addDirectionSymbol="0" formatNumbers="0" decimals="3" plussign="0" reverseDirectionSymbol="0" placeDirectionSymbol="0" leftDirectionSymbol="&lt;" rightDirectionSymbol=">"/>
      <placement placement="{{ label.placement }}" offsetType="0" dist="0" distUnits="MM" quadOffset="4" xOffset="0" yOffset="0" offsetUnits="MM" rotationAngle="0" priority="{{ label.priority or 5 }}" centroidWhole="0" centroidInside="1" fitInPolygonOnly="0" repeatDistance="0" repeatDistanceUnits="MM" overrunDistance="0" overrunDistanceUnit="MM" maxCurvedCharAngleIn="25" maxCurvedCharAngleOut="-25" layerType="{{ layer_type }}" polygonPlacementFlags="2" placementFlags="10" lineAnchorPercent="0.5" lineAnchorType="0" lineAnchorClipping="0" preserveRotation="1" geometryGenerator="" geometryGeneratorEnabled="0" geometryGeneratorType="PointGeometry" allowDegraded="0" overlapHandling="PreventOverlap" predefinedPositionOrder="TR,TL,BR,BL,R,L,TSR,BSR" distMapUnitScale="3x:0,0,0,0,0,0" labelOffsetMapUnitScale="3x:0,0,0,0,0,0" rotationUnit="AngleDegrees"/>
      <rendering scaleVisibility="{{ 1 if label.max_scale else 0 }}" scaleMin="0" scaleMax="{{ label.max_scale or 0 }}" obstacle="1" obstacleType="1" obstacleFactor="1" zIndex="{{ label.z or 0 }}" displayAll="0" upsidedownLabels="0" labelPerPart="0" mergeLines="0" minFeatureSize="0" limitNumLabels="0" maxNumLabels="2000" fontLimitPixelSize="0" fontMinPixelSize="3" fontMaxPixelSize="10000" drawLabels="1" unplacedVisibility="0"/>
      <dd_properties><Option type="Map"><Option type="QString" name="name" value=""/><Option name="properties"/><Option type="QString" name="type" value="collection"/></Option></dd_properties>
      <callout type="simple"><Option type="Map"><Option type="QString" name="enabled" value="0"/></Option></callout>
    </settings>
  </labeling>
  {%- endif %}
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerOpacity>1</layerOpacity>
  <layerGeometryType>{{ geometry_type }}</layerGeometryType>
</qgis>
